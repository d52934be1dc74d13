"""The run record (results.jsonl) and every view of it.

The signed report, plots, uncertainty and decision rules all read the record alone.
"""
