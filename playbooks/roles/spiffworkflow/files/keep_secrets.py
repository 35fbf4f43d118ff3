"""Keeps the engine's secrets equal to the values given on stdin as {"keep": {key: value}, "remove": [key]}.

The engine stores them encrypted (Fernet, SPIFFWORKFLOW_BACKEND_ENCRYPTION_KEY); process models refer to them
as SPIFF_SECRET:<key>. Prints one JSON line {"changed": [keys]} last; values are never printed. Run through
egov6-spiff (service user, engine settings): egov6-spiff python keep_secrets.py < secrets.json
"""

import json
import sys

from spiffworkflow_backend import create_app
from spiffworkflow_backend.models.db import db
from spiffworkflow_backend.models.secret_model import SecretModel
from spiffworkflow_backend.models.user import UserModel
from spiffworkflow_backend.services.secret_service import SecretService
from spiffworkflow_backend.services.user_service import UserService

# Secrets have an owner in the engine; egov6's own account owns the ones it manages.
OWNER = {"username": "egov6-automation", "service": "egov6", "service_id": "egov6-automation"}


def main() -> int:
    request = json.load(sys.stdin)
    wanted, retired = request["keep"], request.get("remove", [])
    app = create_app()
    changed = []
    with app.app.app_context():
        owner = UserModel.query.filter_by(service=OWNER["service"], service_id=OWNER["service_id"]).first()
        if owner is None:
            owner = UserService.create_user(OWNER["username"], OWNER["service"], OWNER["service_id"])
        for key, value in wanted.items():
            secret = SecretModel.query.filter_by(key=key).first()
            if secret is not None and SecretService._decrypt(secret.value) == value:
                continue
            SecretService.update_secret(key, value, owner.id, create_if_not_exists=True)
            changed.append(key)
        for key in retired:
            secret = SecretModel.query.filter_by(key=key).first()
            if secret is not None:
                db.session.delete(secret)
                changed.append(key)
        db.session.commit()
    print(json.dumps({"changed": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
