"""The S3 front door: an S3-compatible API on its own port, over the same data service as the Data API; S3 clients
reach the hub's connections with hub-issued access keys."""
