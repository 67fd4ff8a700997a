"""Metrics: panoptic quality (PQ/SQ/RQ); mask AP and mIoU follow."""
