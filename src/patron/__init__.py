"""patron: a customer-profile platform for loyalty programs and customer-data teams."""

__version__ = "0.1.0"
