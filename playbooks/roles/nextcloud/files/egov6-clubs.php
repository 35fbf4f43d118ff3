<?php
/**
 * egov6's club spaces, planned and applied in one PHP process on the cloud host.
 *
 * One Nextcloud bootstrap for any number of clubs (an occ process per item costs a bootstrap each: for 600 clubs
 * that is hours, see bench/clubs.py). Reads the desired state as JSON on stdin, prints JSON on stdout:
 *
 *     sudo -u www-data php egov6-clubs.php plan|apply < desired.json
 *
 * desired.json: {"today": "YYYY-MM-DD", "retention_days": 90, "clubs": [{"slug", "name", "quota",
 * "calendar", "state", "offboarded_on", "origin"}]}. The values were validated by egov6 (the registry's schema);
 * they are only ever passed to Nextcloud's APIs as data, never into a query, a path outside the club's own
 * folder, or a shell.
 *
 * A club space: group verein-<slug>; a functional owner account club-<slug> with the club's quota that owns the
 * club folder (members' uploads count against it); the folder shared with the group (read/write, no re-share); a
 * calendar owned by the club account, shared read/write with the group. egov6 marks what it provisioned (a user
 * setting of the owner account), and never touches a club it did not provision.
 */

declare(strict_types=1);

use OCP\Constants;
use OCP\Share\IShare;

const APP = 'egov6';
const CALENDAR_URI = 'verein';
const MARKER = 'club';

$mode = $argv[1] ?? '';
if (!in_array($mode, ['plan', 'apply', 'invite', 'mail'], true)) {
	fwrite(STDERR, "usage: egov6-clubs.php plan|apply|invite|mail < request.json\n");
	exit(2);
}
// mail (the timer): no request, only the welcome mails still pending are sent
$desired = $mode === 'mail' ? [] : json_decode((string)stream_get_contents(STDIN), true, 16, JSON_THROW_ON_ERROR);

require_once (getenv('EGOV6_NEXTCLOUD_ROOT') ?: '/var/www/nextcloud') . '/lib/base.php';
// Every enabled app, as occ and the web server load them: files_sharing's listeners accept a new group share for
// the group's members; without them a share stays pending and nobody sees the club folder.
\OCP\Server::get(\OCP\App\IAppManager::class)->loadApps();

$users = \OCP\Server::get(\OCP\IUserManager::class);
$groups = \OCP\Server::get(\OCP\IGroupManager::class);
$config = \OCP\Server::get(\OCP\IConfig::class);
$root = \OCP\Server::get(\OCP\Files\IRootFolder::class);
$shares = \OCP\Server::get(\OCP\Share\IManager::class);
$caldav = \OCP\Server::get(\OCA\DAV\CalDAV\CalDavBackend::class);
$logger = \OCP\Server::get(\Psr\Log\LoggerInterface::class);
// One run at a time (the CLI, `egov6 up` and the provisioning door may meet): a run cut short by a lost connection
// may still be finishing when the next starts. The lock lives in the data folder, which both callers can write.
$lock = fopen($config->getSystemValueString('datadirectory') . '/.egov6-clubs.lock', 'c');
if ($lock === false || !flock($lock, LOCK_EX)) {
	fwrite(STDERR, "cannot take the club provisioner's lock\n");
	exit(1);
}
$apply = $mode === 'apply';
$changes = [];
$errors = [];
$skipped = [];
$talk = \OCP\Server::get(\OCP\App\IAppManager::class)->isEnabledForAnyone('spreed');

function change(array &$changes, string $club, string $item, string $action, string $detail = ''): void {
	$changes[] = ['club' => $club, 'item' => $item, 'action' => $action, 'detail' => $detail];
}

function folder_name(string $name): string {
	// A folder name from the club's name: no path separators, no leading dot.
	return ltrim(str_replace(['/', '\\'], '-', $name), '.') ?: 'Verein';
}

/** The club's group share, accepted for one member (Nextcloud leaves it pending for accounts added by occ). */
function accept_club_share(string $uid, string $gid, string $member): bool {
	$shares = \OCP\Server::get(\OCP\Share\IManager::class);
	foreach ($shares->getSharedWith($member, IShare::TYPE_GROUP, null, -1) as $share) {
		if ($share->getSharedWith() === $gid && $share->getShareOwner() === $uid) {
			if ($share->getStatus() !== IShare::STATUS_ACCEPTED) {
				$shares->acceptShare($share, $member);
				return true;
			}
		}
	}
	return false;
}

/** The welcome mail with a link to set the password; a relay that refuses it leaves it pending for the next apply. */
function welcome(\OCP\IUser $user): string {
	$config = \OCP\Server::get(\OCP\IConfig::class);
	try {
		// Nextcloud's own welcome mail (with a token to set the password), sent here rather than by the helper,
		// which drops the mailer's answer: a relay that refuses the mail must not count as sent.
		$template = \OCP\Server::get(\OCA\Settings\Mailer\NewUserMailHelper::class)->generateTemplate($user, true);
		$mailer = \OCP\Server::get(\OCP\Mail\IMailer::class);
		$message = $mailer->createMessage();
		$message->setTo([$user->getEMailAddress() => $user->getDisplayName()]);
		$message->setFrom([\OCP\Util::getDefaultEmailAddress('no-reply') => \OCP\Server::get(\OCP\Defaults::class)->getName()]);
		$message->useTemplate($template);
		if ($mailer->send($message) !== []) {
			throw new \RuntimeException('the mail relay did not accept the message');
		}
		$config->deleteUserValue($user->getUID(), APP, 'welcome_pending');
		return '';
	} catch (\Throwable $e) {
		$config->setUserValue($user->getUID(), APP, 'welcome_pending', '1');
		return get_class($e) . ': ' . $e->getMessage();
	}
}

/** Welcome mails still pending (a relay that refused them, or the door's deferred ones): sent now. */
function send_pending(bool $apply, array &$changes, array &$skipped): void {
	$config = \OCP\Server::get(\OCP\IConfig::class);
	$users = \OCP\Server::get(\OCP\IUserManager::class);
	$groups = \OCP\Server::get(\OCP\IGroupManager::class);
	foreach ($config->getUsersForUserValue(APP, 'welcome_pending', '1') as $pending) {
		$member = $users->get($pending);
		if ($member === null) {
			continue;
		}
		$club = implode(',', array_map(fn ($g) => substr($g, 7), array_filter($groups->getUserGroupIds($member), fn ($g) => str_starts_with($g, 'verein-'))));
		if (!$apply) {
			change($changes, $club, 'welcome', 'send', $pending);
			continue;
		}
		$failed = welcome($member);
		if ($failed === '') {
			change($changes, $club, 'welcome', 'send', $pending);
		} else {
			$skipped[] = ['club' => $club, 'item' => 'welcome',
				'reason' => "the relay did not take the mail to $pending (retried on the next apply): $failed"];
		}
	}
}

/** Members (other than the owner) whose every club is offboarded lose access with it. */
function lone_members(\OCP\IGroup $group, string $owner, array $active_groups): array {
	$lone = [];
	foreach ($group->getUsers() as $user) {
		if ($user->getUID() === $owner) {
			continue;
		}
		$theirs = \OCP\Server::get(\OCP\IGroupManager::class)->getUserGroupIds($user);
		if (count(array_intersect($theirs, $active_groups)) === 0) {
			$lone[] = $user;
		}
	}
	return $lone;
}

if ($mode === 'mail') {
	send_pending(true, $changes, $skipped);
	if ($changes !== [] || $skipped !== []) {  // the journal hears of the timer only when there was mail to send
		echo json_encode(['mode' => $mode, 'changes' => $changes, 'skipped' => $skipped]), "\n";
	}
	exit(0);
}

if ($mode === 'invite') {
	// A club contact: an account named by egov6 (not by the e-mail, the only personal datum it holds), in the club's
	// group (its sub-admin with "admin": the club manages its own members), and a welcome mail to set a password.
	$slug = $desired['club'];
	$gid = 'verein-' . $slug;
	$uid = 'club-' . $slug;
	$group = $groups->get($gid);
	$owner = $users->get($uid);
	if ($group === null || $owner === null || !$owner->isEnabled() || $config->getUserValue($uid, APP, MARKER, '') !== $slug) {
		echo json_encode(['mode' => $mode, 'error' => "club $slug has no active space (egov6 clubs apply first)"]), "\n";
		exit(1);
	}
	$known = $users->getByEmail($desired['email']);
	$created = false;
	if (count($known) > 1) {
		echo json_encode(['mode' => $mode, 'error' => 'several accounts have this e-mail address']), "\n";
		exit(1);
	}
	$member = $known[0] ?? null;
	if ($member === null) {
		do {
			$name = 'm-' . bin2hex(random_bytes(5));
		} while ($users->userExists($name));
		$member = $users->createUser($name, bin2hex(random_bytes(32)));  // unusable until the link sets one
		$member->setSystemEMailAddress($desired['email']);
		$config->setUserValue($name, APP, 'member', '1');
		$created = true;
	}
	if (!$group->inGroup($member)) {
		$group->addUser($member);
	}
	$subadmins = $groups->getSubAdmin();
	if ($desired['admin'] && !$subadmins->isSubAdminOfGroup($member, $group)) {
		$subadmins->createSubAdmin($member, $group);
	}
	accept_club_share($uid, $gid, $member->getUID());
	$mail_error = '';
	if ($desired['defer_mail'] ?? false) {
		// the provisioning door has no way to the relay: the mail timer (egov6-clubs-mail) sends it within a minute
		$config->setUserValue($member->getUID(), APP, 'welcome_pending', '1');
	} elseif ($created || $config->getUserValue($member->getUID(), APP, 'welcome_pending', '') === '1') {
		$mail_error = welcome($member);
	}
	$logger->info("egov6: contact invited to club $slug as {$member->getUID()}", ['app' => APP]);
	echo json_encode(['mode' => $mode, 'account' => $member->getUID(), 'created' => $created,
		'admin' => $subadmins->isSubAdminOfGroup($member, $group), 'mail_error' => $mail_error]), "\n";
	exit(0);
}

$active_groups = [];
foreach ($desired['clubs'] as $club) {
	if ($club['state'] === 'active') {
		$active_groups[] = 'verein-' . $club['slug'];
	}
}
$declared = [];
$today = new DateTimeImmutable($desired['today']);

foreach ($desired['clubs'] as $club) {
	$slug = $club['slug'];
	$gid = 'verein-' . $slug;
	$uid = 'club-' . $slug;
	$declared[$uid] = true;
	try {
		$owner = $users->get($uid);
		if ($owner !== null && $config->getUserValue($uid, APP, MARKER, '') !== $slug) {
			change($changes, $slug, 'club', 'refused', "account $uid exists but was not provisioned by egov6");
			continue;
		}
		if ($owner !== null && ($club['origin'] ?? '') === 'engine') {
			continue;  // the engine's door asks for a space: one that exists is left as it is (the registry rules it)
		}
		if ($club['state'] === 'offboarded') {
			$until = (new DateTimeImmutable($club['offboarded_on']))->modify('+' . (int)$desired['retention_days'] . ' days');
			if ($today > $until) {
				if ($owner !== null || $groups->groupExists($gid)) {
					change($changes, $slug, 'space', 'delete', 'retention ended ' . $until->format('Y-m-d'));
					if ($apply) {
						$group = $groups->get($gid);
						// members only in clubs that are gone: their accounts (the contacts' personal data) go too;
						// an account in any group that is not a club's (an admin, a clerk) is kept
						foreach ($group ? lone_members($group, $uid, $active_groups) : [] as $member) {
							$others = array_filter($groups->getUserGroupIds($member), fn ($g) => !str_starts_with($g, 'verein-'));
							if ($others === []) {
								$member->delete();
							}
						}
						$owner?->delete();  // its files, shares and calendar go with it
						$group?->delete();
						$logger->warning("egov6: club space $slug deleted (retention ended)", ['app' => APP]);
					}
				}
				continue;
			}
			$group = $groups->get($gid);
			$to_disable = array_filter(
				[$owner, ...($group ? lone_members($group, $uid, $active_groups) : [])],
				fn ($u) => $u !== null && $u->isEnabled()
			);
			foreach ($to_disable as $user) {
				change($changes, $slug, 'access', 'disable', $user->getUID() === $uid ? 'club account' : 'member');
				if ($apply) {
					$config->setUserValue($user->getUID(), APP, 'offboarded_with', $slug);
					$user->setEnabled(false);
				}
			}
			continue;
		}

		// active: the space as declared; access restored when the club came back
		if (!$groups->groupExists($gid)) {
			change($changes, $slug, 'group', 'create');
			if ($apply) {
				$groups->createGroup($gid)?->setDisplayName($club['name']);
			}
		} elseif ($groups->get($gid)->getDisplayName() !== $club['name']) {
			change($changes, $slug, 'group', 'update', 'name');
			if ($apply) {
				$groups->get($gid)->setDisplayName($club['name']);
			}
		}
		if ($owner === null) {
			change($changes, $slug, 'account', 'create');
			if ($apply) {
				// A functional account nobody signs in with: a long random password that is never stored.
				$owner = $users->createUser($uid, bin2hex(random_bytes(32)));
				$config->setUserValue($uid, APP, MARKER, $slug);
				$config->setUserValue($uid, APP, 'origin', $club['origin'] ?? 'registry');
				$config->setUserValue($uid, APP, 'town', $club['town'] ?? '');
				$owner->setDisplayName($club['name']);
			}
		}
		if ($owner !== null) {
			foreach ($groups->get($gid)?->getUsers() ?? [] as $member) {
				if (!$member->isEnabled() && $config->getUserValue($member->getUID(), APP, 'offboarded_with', '') === $slug) {
					change($changes, $slug, 'access', 'enable', 'member');
					if ($apply) {
						$config->deleteUserValue($member->getUID(), APP, 'offboarded_with');
						$member->setEnabled(true);
					}
				}
			}
			if (!$owner->isEnabled()) {
				change($changes, $slug, 'access', 'enable', 'club account');
				if ($apply) {
					$config->deleteUserValue($uid, APP, 'offboarded_with');
					$owner->setEnabled(true);
				}
			}
			if ($owner->getDisplayName() !== $club['name']) {
				change($changes, $slug, 'account', 'update', 'name');
				if ($apply) {
					$owner->setDisplayName($club['name']);
				}
			}
			// Nextcloud writes quotas in its own units ("1024 GB" comes back as "1 TB"): compare bytes
			if (\OCP\Util::computerFileSize($owner->getQuota()) !== \OCP\Util::computerFileSize($club['quota'])) {
				change($changes, $slug, 'quota', $owner->getQuota() === 'none' ? 'create' : 'update', $club['quota']);
				if ($apply) {
					$owner->setQuota($club['quota']);
				}
			}
		} else {
			change($changes, $slug, 'quota', 'create', $club['quota']);
		}

		// the club folder, shared with the group
		// (known by its id: a club that changes its name keeps its folder, renamed)
		$name = folder_name($club['name']);
		$folder = null;
		if ($owner !== null) {
			$home = $root->getUserFolder($uid);
			$found = $home->getFirstNodeById((int)$config->getUserValue($uid, APP, 'folder', '0'));
			if ($found === null && $home->nodeExists($name)) {
				$found = $home->get($name);  // made before egov6 kept the id: kept from now on (bookkeeping only)
				if ($apply) {
					$config->setUserValue($uid, APP, 'folder', (string)$found->getId());
				}
			}
			$folder = $found instanceof \OCP\Files\Folder ? $found : null;
			if ($folder !== null && $folder->getName() !== $name) {
				change($changes, $slug, 'folder', 'update', "renamed to $name");
				if ($apply) {
					$folder = $folder->move($home->getPath() . '/' . $name);
				}
			}
		}
		if ($folder === null) {
			change($changes, $slug, 'folder', 'create', $name);
			if ($apply) {
				$folder = $root->getUserFolder($uid)->newFolder($name);
				$config->setUserValue($uid, APP, 'folder', (string)$folder->getId());
			}
		}
		$permissions = Constants::PERMISSION_ALL & ~Constants::PERMISSION_SHARE;
		$existing = $folder ? array_values(array_filter(
			$shares->getSharesBy($uid, IShare::TYPE_GROUP, $folder, false, -1),
			fn ($s) => $s->getSharedWith() === $gid
		)) : [];
		if ($existing === []) {
			change($changes, $slug, 'share', 'create', 'read/write, no re-share');
			if ($apply) {
				$share = $shares->newShare();
				$share->setNode($folder)->setShareType(IShare::TYPE_GROUP)->setSharedWith($gid)
					->setPermissions($permissions)->setSharedBy($uid)->setShareOwner($uid);
				$shares->createShare($share);
			}
		} elseif ($existing[0]->getPermissions() !== $permissions) {
			change($changes, $slug, 'share', 'update', 'read/write, no re-share');
			if ($apply) {
				$shares->updateShare($existing[0]->setPermissions($permissions));
			}
		}
		// every member sees the folder: a share still pending for someone (added while it was) is accepted
		if ($existing !== []) {
			foreach ($groups->get($gid)?->getUsers() ?? [] as $member) {
				$theirs = array_filter(
					$shares->getSharedWith($member->getUID(), IShare::TYPE_GROUP, null, -1),
					fn ($s) => $s->getId() === $existing[0]->getId()
				);
				if ($theirs !== [] && array_values($theirs)[0]->getStatus() !== IShare::STATUS_ACCEPTED) {
					change($changes, $slug, 'share', 'accept', 'member');
					if ($apply) {
						accept_club_share($uid, $gid, $member->getUID());
					}
				}
			}
		}

		// the club calendar, shared read/write with the group over CalDAV
		if ($club['calendar']) {
			$principal = 'principals/users/' . $uid;
			$calendar = $owner ? $caldav->getCalendarByUri($principal, CALENDAR_URI) : null;
			if ($calendar === null) {
				change($changes, $slug, 'calendar', 'create');
				if ($apply) {
					$caldav->createCalendar($principal, CALENDAR_URI, ['{DAV:}displayname' => $club['name']]);
					$calendar = $caldav->getCalendarByUri($principal, CALENDAR_URI);
				}
			}
			$href = 'principal:principals/groups/' . $gid;
			$shared = $calendar ? array_filter($caldav->getShares((int)$calendar['id']), fn ($s) => $s['href'] === $href && !$s['readOnly']) : [];
			if ($shared === []) {
				change($changes, $slug, 'calendar-share', 'create', 'read/write');
				if ($apply) {
					$shareable = new \OCA\DAV\CalDAV\Calendar(
						$caldav, $calendar, \OCP\Server::get(\OCP\L10N\IFactory::class)->get('dav'), $config, $logger
					);
					$caldav->updateShares($shareable, [['href' => $href, 'commonName' => '', 'readOnly' => false]], []);
				}
			}
		}
		if ($club['talk'] ?? false) {
			$reason = $talk ? 'egov6 does not create Talk rooms yet' : 'the Talk app is not installed on this cloud';
			$skipped[] = ['club' => $slug, 'item' => 'talk', 'reason' => $reason];
		}
	} catch (\Throwable $e) {
		$errors[] = ['club' => $slug, 'error' => get_class($e) . ': ' . $e->getMessage()];
	}
}

send_pending($apply, $changes, $skipped);

// Clubs egov6 provisioned (the engine's approvals) that the registry does not list yet: `egov6 clubs adopt`.
$unregistered = [];
foreach ($config->getUsersForUserValue(APP, 'origin', 'engine') as $uid) {
	if (!isset($declared[$uid]) && ($user = $users->get($uid)) !== null) {
		$unregistered[] = [
			'slug' => $config->getUserValue($uid, APP, MARKER, ''),
			'name' => $user->getDisplayName(),
			'town' => $config->getUserValue($uid, APP, 'town', ''),
		];
	}
}

// The provisioning log, in Nextcloud's log beside admin_audit's entries: every change applied, one line each
// (club, item, action; no personal data: members appear by their egov6 account name only).
if ($apply) {
	foreach ($changes as $done) {
		$logger->info("egov6 club provisioning: {$done['club']} {$done['item']} {$done['action']} {$done['detail']}", ['app' => APP]);
	}
}
echo json_encode(
	['mode' => $mode, 'changes' => $changes, 'errors' => $errors, 'unregistered' => $unregistered, 'skipped' => $skipped],
	JSON_UNESCAPED_UNICODE
), "\n";
exit($errors === [] ? 0 : 1);
