"""The product lines the service network repairs (shared by every area)."""

PRODUCTS = ("air-conditioner", "washing-machine", "refrigerator", "water-heater")
