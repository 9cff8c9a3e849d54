"""Platform adapters: they translate platform updates into core values and core deliveries
into platform calls — nothing else."""
