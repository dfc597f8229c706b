"""SigV4 verification: who is calling (see authenticate.py), and the body they signed."""
