"""The kiosk's routes: the screen itself, guards' shifts, guards' actions."""
