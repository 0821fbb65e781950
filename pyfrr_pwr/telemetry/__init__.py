"""Layer 2, telemetry: power and energy readers (hwmon, RAPL; later
Redfish, Prometheus, IEC 61850), each with the same small ``read()``
interface. I/O at the edge, parsing kept pure."""
