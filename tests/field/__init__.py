"""The whole product in the networks users are in, each built in its own network namespace."""
