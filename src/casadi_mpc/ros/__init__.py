"""ROS 2 shells around the core: message conversions, parameters, QoS and nodes (no math)."""
