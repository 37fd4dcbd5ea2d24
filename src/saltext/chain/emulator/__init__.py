"""A Jenkins controller emulator that answers the REST API as real Jenkins does."""
