"""Users, roles, sign-in, API tokens, user and network administration."""
