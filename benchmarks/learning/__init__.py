"""``make bench-learning``: an offline, seeded task world where an agent with recall beats the same agent without.

The agent is a scripted policy (see :mod:`learning.agent`); everything it records, stores and
recalls goes through the real SDK. docs/learning.md says what the figures show and what they
do not. Entry point: ``python benchmarks/bench_learning.py [--quick]``.
"""
