"""Webhooks: registrations, the outbox of their deliveries, and the sender."""
