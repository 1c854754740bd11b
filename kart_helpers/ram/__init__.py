"""RAM: the memory map and its types, RAM search, traces, and data.json.

Modules: addresses, data_json, memory_map, search, trace, types.
"""
