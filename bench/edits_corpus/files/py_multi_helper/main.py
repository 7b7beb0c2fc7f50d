from utils import shout

TITLE = "Hello World"


def main():
    print(TITLE)
