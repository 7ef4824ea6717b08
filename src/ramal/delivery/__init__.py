"""Webhook delivery: outbox fan-out, dispatcher, retry schedule, signing, SSRF guard, delivery log."""
