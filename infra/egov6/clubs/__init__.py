"""Club spaces in the club cloud: the registry of a stack."""
