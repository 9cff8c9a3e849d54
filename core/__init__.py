"""The domain of relaydesk: model, ports and services. Pure: no I/O framework imports."""
