"""Jobs: a data source in, an app over partitions, a data destination out, run on Dask.

`service` holds the use cases the API calls; `planning`, `apps` and `assemblers`
the building blocks; `executor` the engine interface and its Dask implementation;
`runner` what runs on a worker per partition; `driver` what moves a job through
its states inside the hub. SQL is the truth: every partition has a status row.
"""
