"""Security primitives of identity: password hashing and policy, secrets, signing keys."""
