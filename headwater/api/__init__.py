"""HTTP: the app factory, authentication, one router per resource, and the error mapping."""
