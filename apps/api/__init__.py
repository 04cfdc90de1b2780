"""/api/v1/: the REST API for users and operators, and Imperal's call route."""
