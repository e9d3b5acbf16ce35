"""Readers and writers of every file format ionsitu uses."""
