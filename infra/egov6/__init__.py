"""egov6: declares, converges, proves and audits the eGov6 infrastructure from one stack file."""

__version__ = "0.1.0"
