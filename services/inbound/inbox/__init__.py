"""The inbox: every received message of an assistant, matched or not, with how it was
read and what was decided; and the assistant's inbound route (URL and secret)."""
