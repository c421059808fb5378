"""Training the models the bot ships (``make train-reader``): tools run by maintainers, never by the
bot. They need torch and transformers; answering needs neither."""
