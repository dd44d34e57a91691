"""Mystery-shopper audits: templates from the service norms, filing, scoring and consequences."""
