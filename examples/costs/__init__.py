"""Cost-aware active learning through the service: margin per unit cost against
plain margin and random, at equal spend, on scikit-learn's digits."""
