"""The ``egov6`` command: thin typer commands over the library; nothing imports this package."""
