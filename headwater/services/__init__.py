"""The use cases. Every request's rights are decided here, never in `api/`.

Who owns a transaction: the use case. A use case takes the hub as its first argument, opens
`hub.store.session()` itself (the block commits when it returns and rolls back when it
raises) and returns rows or views that need no store to present. A function that takes a
`Session` instead is a step: it joins the transaction of the use case that calls it, and
only services (and tests setting up a store) call it. `api/` and `cli/` call use cases only
and hold no session; `api/` imports no SQLAlchemy. A use case built on steps of several
modules lives above them, so the step modules import one way: `native` for the native API's
secrets, data sources and data systems, `foundation` and `bytenite` for the compat APIs.
The few functions that take the `Store` instead of the hub (the job driver's `jobs.records`,
`secrets.rotate_master_key`) own their transaction too.
"""
