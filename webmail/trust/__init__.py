"""The MSSanté trust space: the operator whitelist and structured documents (IHE XDM, CDA)."""
