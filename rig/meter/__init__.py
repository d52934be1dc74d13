"""The meter under test: its facts, how they are read, and the vendor of its tokens."""
