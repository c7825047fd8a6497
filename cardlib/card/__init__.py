"""The issuer side: personalization of a resident into a signed CardImage."""
