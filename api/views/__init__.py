"""The driver API's views: one module per subject, one view per operation, each with its input and output
serializers beside it. Views are thin: they validate, call the apps' services and selectors, and serialize."""
