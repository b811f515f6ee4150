"""The data portal: a small web app served at `/`, signed in with a token kept in an HttpOnly cookie.

`csrf` holds the double-submit check that `api.deps` applies to every cookie-authenticated
request that changes state; `router` serves the page, its assets and the sign-in session.
"""
