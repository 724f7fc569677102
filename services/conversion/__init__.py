"""conversion: partner campaigns, signed links, clicks, attribution, funnels and postbacks."""
