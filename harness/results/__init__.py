"""Public wing: reading runs. Summaries and estimators (pass@k, pass^k), paired statistics,
leaderboard rows and exporters, comparisons, the HTML report and its chart, transcripts."""
