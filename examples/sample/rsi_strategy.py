"""RSI mean-reversion strategy (sample artifact for the artifactd demo)."""
import os

RSI_PERIOD = 14
OVERSOLD = 30
OVERBOUGHT = 70
API_KEY = os.environ.get("BROKER_API_KEY")  # read at run time, never stored


def rsi(closes, period=RSI_PERIOD):
    gains, losses = [], []
    for prev, cur in zip(closes, closes[1:]):
        change = cur - prev
        gains.append(max(change, 0.0))
        losses.append(max(-change, 0.0))
    avg_gain = sum(gains[-period:]) / period
    avg_loss = sum(losses[-period:]) / period or 1e-9
    return 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)


def signal(closes):
    value = rsi(closes)
    if value < OVERSOLD:
        return "buy"
    if value > OVERBOUGHT:
        return "sell"
    return "hold"
