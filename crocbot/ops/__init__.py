"""Operations: logging, redaction, and (later) health, metrics, notifier, service, soak runner."""
