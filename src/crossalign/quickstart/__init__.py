"""The quickstart: crossalign's whole story on one offline machine (see ``crossalign quickstart``)."""
