"""What local mode and cluster mode share about routers: polling their stats, measuring from them, writing their config."""
