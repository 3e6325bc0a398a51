"""Back-office pages that span apps: the start page, the support view of a driver. On top of the layers:
it may use drivers, roaming and billing; nothing imports it."""
