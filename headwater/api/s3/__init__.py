"""The S3-compatible front door: S3 clients reach the hub's connections with hub-issued access keys."""
