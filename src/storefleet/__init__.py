"""StoreFleet: a self-hosted platform for running many WooCommerce stores."""
