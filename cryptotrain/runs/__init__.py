"""Reading run directories for `cryptotrain runs`: pure functions that return plain data.

Nothing here writes, renames or locks a file: a run that is being trained, or was killed
half-way, is read as it is and described by its state (reader.py: one run; index.py: a
directory of runs, the kinds of directory, and differences between configs).
"""
