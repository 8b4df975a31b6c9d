"""Reference engines: the real systems nlq's engines are measured against."""
