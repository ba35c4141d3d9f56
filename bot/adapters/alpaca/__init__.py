"""The Alpaca adapters (alpaca-py): broker, market data and calendar behind the bot's ports."""
