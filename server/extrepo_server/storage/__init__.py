"""Storage: SQLModel tables and the SQL behind them. Dialect-neutral but for small, marked parts."""
