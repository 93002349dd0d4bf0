"""Fleet upgrades: the platform's target WordPress and WooCommerce releases,
and moving every store to them in waves, each store gated on a real order."""
