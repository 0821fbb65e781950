"""Layer 2, files: the power configuration (power.yml) and containerlab
topology loaders. The only place that raises ``ConfigError``; every error
names the file, the line and the field."""
